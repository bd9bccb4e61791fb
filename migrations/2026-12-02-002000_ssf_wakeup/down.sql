DROP TRIGGER ssf_streams_wake ON ssf_streams;
DROP TRIGGER ssf_outbox_wake ON ssf_outbox;
DROP FUNCTION ssf_wake_on_outbox();
DROP FUNCTION ssf_wake();
DROP TABLE ssf_wakeup;
ALTER TABLE ssf_streams DROP COLUMN poll_waiting_until;
