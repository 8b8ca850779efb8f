"""Pure domain rules of the clinic: no I/O, no frameworks, no database."""
