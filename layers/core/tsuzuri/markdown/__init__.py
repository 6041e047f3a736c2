"""Markdown to sanitized HTML: markdown-it-py with the kramdown IAL plugin, and what the
theme needs from the token stream (headings, plain text)."""
