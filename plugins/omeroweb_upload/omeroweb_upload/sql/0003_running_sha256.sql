-- The running SHA-256 (OpenSSL SHA256_CTX bytes) of each file's confirmed bytes, saved with
-- received_bytes in the same transaction, so a chunk sent with X-Prefix-Sha256 carries the
-- whole-file digest on without reading the file again. NULL: not kept (rebuilt if needed).
ALTER TABLE upload_files ADD COLUMN sha256_state bytea;
