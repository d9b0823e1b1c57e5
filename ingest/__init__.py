"""newsbot, the writer side: feeds → articles → chunks → vectors. Never imports bot."""
