"""Accounts: users of departments and stations, their roles and scope, API keys, sessions.

``roles`` is the one table of who may do what; ``scope`` decides which rows a principal sees;
``service`` creates users, checks passwords (argon2id, lockout) and issues tokens.
"""
