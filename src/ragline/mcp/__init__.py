"""The Model Context Protocol server: ragline's documents as tools for assistants and editors."""
