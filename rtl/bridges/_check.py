"""Constructor argument check shared by the bridges."""


def check_size(component, name, value, lo, hi):
    """Raise ValueError unless lo <= value <= hi; the half-built component is
    marked so Amaranth does not also warn that it was never elaborated."""
    if not lo <= value <= hi:
        component._MustUse__silence = True
        raise ValueError(f"{type(component).__name__}: {name} = {value}: allowed {lo}..{hi}")
