-- The warehouse is a second database in the same server (one schema per project).
-- Runs once, when the postgres volume is initialised.
CREATE DATABASE warden_warehouse OWNER warden;
