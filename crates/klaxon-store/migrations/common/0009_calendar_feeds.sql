-- Secret calendar feeds (iCalendar, RFC 5545): one random token per schedule or user, the only secret of
-- `GET /ical/schedules/{token}.ics` and `GET /ical/users/{token}.ics` (calendar clients send no API key).
-- A token is made the first time its URL is asked for (`include[]=calendar_urls`), so existing schedules
-- and users need no backfill; `owner_type` is `schedule` or `user`.
CREATE TABLE calendar_feeds (
    token TEXT PRIMARY KEY,
    owner_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (owner_type, owner_id)
);
