"""The one error every weights loader raises: a sentence a person can act on."""


class WeightsError(ValueError):
    """A weights file that cannot be used, with one sentence saying why."""
