-- Admin and privacy: the consent that is in force now.
--
-- consents keeps the full history (one row per change, never updated). Everything that decides
-- whether a customer may be contacted (segments, audience exports) reads this view, so a
-- withdrawal counts from the moment its row is committed. Ties on recorded_at go to the later
-- row (consent_id comes from a sequence).
CREATE OR REPLACE VIEW consent_current AS
SELECT customer_id, channel, status, source, recorded_at, recorded_by, consent_id
FROM consents
QUALIFY row_number() OVER (PARTITION BY customer_id, channel
                           ORDER BY recorded_at DESC, consent_id DESC) = 1;
