"""The mail domain: messages, stores, queues, DNS and the checks mail goes through."""
