"""The SMT operator console (Textual). Depends only on smt_engine.store, domain and config."""
