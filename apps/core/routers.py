from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes that answer with and without the trailing slash.

    A redirect from one to the other would drop a signed POST's body, so neither redirects.
    DRF's constructor turns any truthy ``trailing_slash`` into "/", hence the assignment after it.
    """

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
