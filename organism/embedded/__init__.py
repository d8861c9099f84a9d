"""Running the whole system from one command (`manage.py organism_run`)."""
