"""loralint's rules, one module each, with their docs beside them."""
