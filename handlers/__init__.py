"""Thin Telegram handlers: translate updates into engine calls and answers into messages."""
