"""The customers context: contacts, accounts, opportunities, orders, products, exchange rates, shops, imports and
exports, the 360 view, service and finance records, loyalty, segments."""
