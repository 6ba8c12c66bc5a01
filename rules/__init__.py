"""Rules as data: the rule schema, its loader and the deadline arithmetic.

Pure Python: no database, no web, no clock of its own.
"""

from rules.loader import SHIPPED_DIR, RuleProblem, RuleSet, RulesInvalid, load_rules
from rules.schema import Obligation, Rule

__all__ = ["SHIPPED_DIR", "Obligation", "Rule", "RuleProblem", "RuleSet", "RulesInvalid", "load_rules"]
