"""A pytest plugin: without ``MYSQL_URL`` the MariaDB/MySQL tests (``tests/catalog/*_mysql.py``)
are not collected at all (not skipped), and the run ends with one line saying so and how to
run them.

The root conftest registers it (``pytest_plugins``) so that the controller process of
pytest-xdist, which never enters tests/catalog, prints the line too.
"""

import os

LEFT_OUT = (
    "catalog: the MariaDB/MySQL harvest tests (tests/catalog/*_mysql.py) were left out because MYSQL_URL "
    "is unset; run them with MYSQL_URL=mysql://root@127.0.0.1:3306/test make test"
)


def mysql_url() -> str:
    return os.environ.get("MYSQL_URL", "")


def pytest_ignore_collect(collection_path, config):
    if not mysql_url() and collection_path.name.endswith("_mysql.py"):
        return True
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not mysql_url():
        terminalreporter.write_line(LEFT_OUT)
