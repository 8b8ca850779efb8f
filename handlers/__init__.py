"""Conversation flows and the framework-free core they run on (events, port, dispatcher)."""
