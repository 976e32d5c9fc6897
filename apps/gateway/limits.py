"""Resource isolation: one user's heavy work must not slow everyone else's.

Two budgets, each per tenant and per user, kept in Redis (the cache's server, under the
cache's key prefix) so that every web process and worker shares them: queries running at once
(a slot is taken before a statement runs and given back when it ends, whatever happens; a slot
also expires on its own after twice the statement timeout, so a killed process cannot hold one
for ever), and rows returned per minute (counted in the clock minute they were returned). A
statement over a budget is refused with the setting it ran into, before it reaches the
warehouse. Taking a slot (with the row budgets checked) and giving it back (with the rows
counted) are one Redis script each: one round trip before and one after a statement.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

_TAKE = """
local function over(limit, value) return tonumber(limit) > 0 and value >= tonumber(limit) end
local user_rows = tonumber(redis.call('GET', KEYS[3]) or '0')
if over(ARGV[4], user_rows) then return {3, user_rows} end
local tenant_rows = tonumber(redis.call('GET', KEYS[4]) or '0')
if over(ARGV[5], tenant_rows) then return {4, tenant_rows} end
local mine = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if tonumber(ARGV[1]) > 0 and mine > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1]) return {1, mine - 1} end
local ours = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if tonumber(ARGV[2]) > 0 and ours > tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[1]) redis.call('DECR', KEYS[2]) return {2, ours - 1} end
return {0, 0}
"""

_GIVE_BACK = """
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
if tonumber(ARGV[1]) > 0 then
  for i = 3, 4 do redis.call('INCRBY', KEYS[i], ARGV[1]) redis.call('EXPIRE', KEYS[i], 120) end
end
return 0
"""


class LimitExceeded(Exception):
    """Over a budget: ``setting`` names it and ``limit`` is its value."""

    def __init__(self, setting: str, limit: int, message: str):
        super().__init__(message)
        self.setting, self.limit, self.message = setting, limit, message


def _keys(user) -> list[str]:
    minute = int(time.time() // 60)
    names = [f"gateway:running:user:{user.pk}", f"gateway:running:tenant:{user.tenant_id}",
             f"gateway:rows:user:{user.pk}:{minute}", f"gateway:rows:tenant:{user.tenant_id}:{minute}"]
    return [cache.make_and_validate_key(name) for name in names]


def _client():
    return cache._cache.get_client(write=True)


def _refusal(code: int, count: int) -> LimitExceeded:
    if code == 1:
        limit = settings.GATEWAY_USER_CONCURRENT_QUERIES
        return LimitExceeded("GATEWAY_USER_CONCURRENT_QUERIES", limit,
                             f"You already have {count} queries running (GATEWAY_USER_CONCURRENT_QUERIES = {limit}); "
                             "wait for one to finish.")
    if code == 2:
        limit = settings.GATEWAY_TENANT_CONCURRENT_QUERIES
        return LimitExceeded("GATEWAY_TENANT_CONCURRENT_QUERIES", limit,
                             f"Your organisation already has {count} queries running "
                             f"(GATEWAY_TENANT_CONCURRENT_QUERIES = {limit}); try again shortly.")
    setting, who = (("GATEWAY_USER_ROWS_PER_MINUTE", "You have") if code == 3
                    else ("GATEWAY_TENANT_ROWS_PER_MINUTE", "Your organisation has"))
    limit = getattr(settings, setting)
    return LimitExceeded(setting, limit, f"{who} read {count:,} rows this minute ({setting} = {limit:,}); "
                                         "try again next minute.")


class Slot:
    """A running statement's place in the budgets; ``rows`` is what it returned."""

    rows = 0


@contextmanager
def query_slot(user):
    """Hold one of the user's and one of the tenant's concurrent-query slots, refused when a
    row budget of this minute is spent; the rows the statement returned (``slot.rows``) are
    counted when it ends."""
    keys = _keys(user)
    client = _client()
    slot_seconds = max(60, 2 * int(settings.GATEWAY_STATEMENT_TIMEOUT_MS) // 1000)
    code, count = client.eval(_TAKE, 4, *keys, settings.GATEWAY_USER_CONCURRENT_QUERIES,
                              settings.GATEWAY_TENANT_CONCURRENT_QUERIES, slot_seconds,
                              settings.GATEWAY_USER_ROWS_PER_MINUTE, settings.GATEWAY_TENANT_ROWS_PER_MINUTE)
    if code:
        raise _refusal(int(code), int(count))
    slot = Slot()
    try:
        yield slot
    finally:
        client.eval(_GIVE_BACK, 4, *keys, slot.rows)
