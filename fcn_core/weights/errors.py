"""The errors of the weights package: each a sentence a person can act on."""


class WeightsError(ValueError):
    """A weights file that cannot be used, with one sentence saying why."""


class DownloadError(OSError):
    """A download of public weights that could not finish (network, server, disk), with one sentence saying why."""


class DownloadCancelled(Exception):
    """A download stopped because the person cancelled it; the partial file stays to be resumed."""
