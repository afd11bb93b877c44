"""Campaign funnels, pure logic: the registry, distinct-person funnel counts, conversion alerts."""
