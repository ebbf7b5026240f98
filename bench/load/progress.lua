-- Continuity: the progress reports of bench/continuity/progress.lua (streams
-- from SESSIONS, "token session" lines), paced, with the load's RESULT line.
dofile("bench/continuity/progress.lua")
dofile("bench/load/report.lua")
