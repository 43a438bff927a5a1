"""librpo status codes as Python exceptions.

Every librpo call returns a status; a negative one becomes an instance of
the class below registered for it, carrying the status and the library's own
message (rpo_status_string). Each class also derives from the built-in
exception a Python caller would expect (ValueError for bad sizes, settings
and values, MemoryError, ...), so generic handlers keep working.
"""

OK = 0
ERR_NULL_POINTER = -1
ERR_SIZE = -2
ERR_PARAM = -3
ERR_NONFINITE = -4
ERR_NOMEM = -5
ERR_UNSUPPORTED = -6
ERR_RANGE = -7


class RPOError(Exception):
    """A librpo call failed. `status` is the RPO_ERR_* code, `message` the
    library's rpo_status_string for it, `library_detail` the context's
    rpo_ctx_error_detail after the call (which argument, which rule, the
    values; "" when the library gave none), `detail` what the binding adds
    (the call or setting it was making)."""

    def __init__(self, status, message, detail=None, library_detail=""):
        self.status = status
        self.message = message
        self.detail = detail
        self.library_detail = library_detail
        text = "librpo status %d: %s" % (status, message)
        if library_detail:
            text += ": " + library_detail
        if detail:
            text += " (%s)" % detail
        super().__init__(text)


class NullPointerError(RPOError, ValueError):
    """RPO_ERR_NULL_POINTER: a required array is missing."""


class SizeError(RPOError, ValueError):
    """RPO_ERR_SIZE: inconsistent shapes, or a size that overflows."""


class ParamError(RPOError, ValueError):
    """RPO_ERR_PARAM: unknown setting, or a value outside its range."""


class NonFiniteError(RPOError, ValueError):
    """RPO_ERR_NONFINITE: NaN or infinity in an input."""


class OutOfMemoryError(RPOError, MemoryError):
    """RPO_ERR_NOMEM: the library's scratch memory could not grow."""


class UnsupportedError(RPOError, NotImplementedError):
    """RPO_ERR_UNSUPPORTED: a valid request the loaded build cannot serve
    (also raised for entry points missing from an older library)."""


class RangeError(RPOError, ArithmeticError):
    """RPO_ERR_RANGE: the result does not fit the output type."""


_CLASS_OF_STATUS = {
    ERR_NULL_POINTER: NullPointerError,
    ERR_SIZE: SizeError,
    ERR_PARAM: ParamError,
    ERR_NONFINITE: NonFiniteError,
    ERR_NOMEM: OutOfMemoryError,
    ERR_UNSUPPORTED: UnsupportedError,
    ERR_RANGE: RangeError,
}


def error_for(status, message, detail=None, library_detail=""):
    """The exception for a failing status (RPOError for codes this binding
    does not know, e.g. ones a newer library added)."""
    return _CLASS_OF_STATUS.get(status, RPOError)(status, message, detail,
                                                  library_detail)
