"""ClickHouse: the client (embedded chdb or a server), table specs and their DDL."""
