"""Shopify: the store connection, incoming webhooks and the outgoing coupon sync."""
