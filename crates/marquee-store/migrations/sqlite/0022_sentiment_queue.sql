-- The accurate sentiment tier's work queue (#20): posts the fast model was
-- unsure about, waiting for the encoder. A row leaves when the encoder has
-- labelled its post (or could not); a deleted post takes its row with it.
CREATE TABLE sentiment_queue (
    post_id   INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    queued_at INTEGER NOT NULL
);
