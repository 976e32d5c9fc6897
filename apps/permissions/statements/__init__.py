"""MaxCompute's security statements: ``parse(text)`` gives one ``ast`` statement or a positioned
``StatementError``."""

from apps.permissions.statements.lexer import StatementError
from apps.permissions.statements.parser import parse

__all__ = ["StatementError", "parse"]
