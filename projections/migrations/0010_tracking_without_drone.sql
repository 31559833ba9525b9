-- 0010: a delivery cancelled before any drone was assigned still gets a final tracking
-- update (status 'cancelled'), and it has no drone.
ALTER TABLE tracking ALTER COLUMN drone_id DROP NOT NULL;
