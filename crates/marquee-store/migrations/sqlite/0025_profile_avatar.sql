-- Profiles (#21): the avatar a profile chose (a key of
-- marquee_domain::AVATARS; NULL: the colour its id picks).
ALTER TABLE profiles ADD COLUMN avatar TEXT;
