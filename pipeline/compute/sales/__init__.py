"""Sales: members' orders and refunds, and additive GMV / refund / repurchase totals."""
