"""The service layer: small ``verb_noun`` functions; the only code that commits."""
