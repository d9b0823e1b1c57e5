"""newsbot, the reader side: retrieval, answers, the command line and the Discord bot."""
