"""Delivery: one channel interface, one module per channel, message templates,
and the one place where retry and fallback are decided (:mod:`alerts.policy`)."""
