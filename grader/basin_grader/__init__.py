"""Basin's grader: formats, the sandbox, the runtime inside it, and trusted scoring. No Django."""
