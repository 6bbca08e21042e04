-- Marketing: segment builder, saved segments, tags, reachable audiences.
-- segment_base is the one row-per-live-customer relation that segment conditions filter on;
-- lib/segments.py splices it, and the compiled (whitelisted, parameterised) condition as
-- segment_filter, into the queries below. Every column name in segment_base is a field key of
-- lib/segments.FIELDS (or an output column such as mobile/email for exports).

-- name: segment_base
-- Each optional part (a join and the columns it adds) is wrapped in a "part NAME" and an "end"
-- comment; the one in the select list also names the columns it adds. A part's join must match
-- at most one row per customer (a primary key, or grouped by customer), so leaving it out
-- changes no count. lib/marketing/queries.compose leaves out the parts a query never mentions:
-- a count over every customer then reads customers and RFM only, not the consents, churn and
-- CLV scores, preferences and feedback (about 9x faster at 1M).
SELECT c.customer_id, c.source, c.source_record_id, c.full_name, c.mobile, c.email,
       c.gender,
       CAST(date_sub('year', c.birth_date, CAST(:as_of AS DATE)) AS INTEGER) AS age,
       c.province, c.city, c.channel, c.customer_type, c.industry, c.lifecycle_stage,
       CAST(c.registered_at AS DATE) AS registered_at,
       /*part rfm: rfm_segment r_score f_score m_score total_spend order_count last_purchase days_since_purchase*/
       r.rfm_segment, r.r_score, r.f_score, r.m_score,
       CAST(coalesce(r.monetary, 0) AS DOUBLE) AS total_spend,
       coalesce(r.frequency, 0) AS order_count,
       CAST(r.last_purchase AS DATE) AS last_purchase,
       r.recency_days AS days_since_purchase,
       /*end*/
       /*part churn: churn_risk churn_probability*/ s.risk_tier AS churn_risk, s.probability AS churn_probability, /*end*/
       /*part clv: clv p_alive*/ v.expected_value AS clv, v.p_alive, /*end*/
       /*part consent: consent_sms consent_email consent_phone*/
       coalesce(k.consent_sms, false) AS consent_sms,
       coalesce(k.consent_email, false) AS consent_email,
       coalesce(k.consent_phone, false) AS consent_phone,
       /*end*/
       /*part preferences: favourite_category categories_bought browsed_not_bought price_level next_category birth_month days_to_birthday*/
       {{preference_segment_columns}},
       /*end*/
       /*part feedback: nps_category last_csat*/ coalesce(fb.nps_category, 'no_response') AS nps_category, fb.last_csat, /*end*/
       -- Contact validation, set-based: E.164 (+ then 8-15 digits, no leading 0); a +86 number
       -- must be a mainland mobile (1[3-9] and 9 more digits). Email: dot-atoms, a domain of
       -- labels without leading/trailing hyphens and a 2-63 letter top-level domain.
       coalesce(regexp_full_match(c.mobile, '\+[1-9][0-9]{7,14}')
                AND (NOT starts_with(c.mobile, '+86') OR regexp_full_match(c.mobile, '\+861[3-9][0-9]{9}')),
                false) AS has_valid_mobile,
       coalesce(length(c.email) <= 254
                AND regexp_full_match(c.email, '[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}'),
                false) AS has_valid_email
FROM customers c
/*part rfm*/ LEFT JOIN customer_rfm r USING (customer_id) /*end*/
/*part churn*/ LEFT JOIN churn_scores s USING (customer_id) /*end*/
/*part clv*/ LEFT JOIN clv_scores v USING (customer_id) /*end*/
/*part consent*/
-- Only the latest consent row per customer and channel counts: a later withdrawal wins.
-- Consent is always the current state, never "as of" a past date (the law applies today).
LEFT JOIN (
    SELECT customer_id,
           bool_or(channel = 'sms' AND status = 'granted') AS consent_sms,
           bool_or(channel = 'email' AND status = 'granted') AS consent_email,
           bool_or(channel = 'phone' AND status = 'granted') AS consent_phone
    FROM (SELECT customer_id, channel, status
          FROM consents
          QUALIFY row_number() OVER (PARTITION BY customer_id, channel
                                     ORDER BY recorded_at DESC, consent_id DESC) = 1)
    GROUP BY customer_id
) k USING (customer_id)
/*end*/
/*part preferences*/ {{preference_segment_join}} /*end*/
/*part feedback*/
LEFT JOIN ({{fb_segment_fields}}
) fb USING (customer_id)
/*end*/
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL

-- name: segment_stats
WITH base AS ({segment_base}),
everyone AS (SELECT count(*) AS customers, sum(total_spend) AS revenue FROM base),
members AS (SELECT count(*) AS members, coalesce(sum(total_spend), 0) AS revenue,
                   avg(total_spend) AS avg_spend
            FROM base WHERE {segment_filter})
SELECT m.members, m.revenue, m.avg_spend, e.customers AS all_customers, e.revenue AS all_revenue,
       m.revenue / nullif(e.revenue, 0) AS revenue_share,
       m.members / nullif(e.customers, 0) AS customer_share
FROM members m, everyone e

-- name: segment_sample
WITH base AS ({segment_base})
SELECT customer_id, full_name, mobile, email, province, city, customer_type, rfm_segment,
       lifecycle_stage, churn_risk, total_spend, last_purchase
FROM base WHERE {segment_filter}
ORDER BY hash(customer_id)
LIMIT :limit

-- name: segment_member_ids
WITH base AS ({segment_base})
SELECT customer_id FROM base WHERE {segment_filter} ORDER BY customer_id

-- name: segment_overlap
WITH base AS ({segment_base}),
flags AS (SELECT ({segment_a}) AS in_a, ({segment_b}) AS in_b FROM base)
SELECT count(*) FILTER (WHERE in_a) AS a,
       count(*) FILTER (WHERE in_b) AS b,
       count(*) FILTER (WHERE in_a AND in_b) AS both_ab,
       count(*) FILTER (WHERE in_a AND NOT in_b) AS a_only,
       count(*) FILTER (WHERE in_b AND NOT in_a) AS b_only,
       count(*) FILTER (WHERE in_a OR in_b) AS union_ab
FROM flags

-- name: segment_field_values
-- Distinct values of one whitelisted categorical field, for pick lists (the field column is
-- spliced from lib/segments.FIELDS only).
WITH base AS ({segment_base})
SELECT {field_column} AS value, count(*) AS customers
FROM base WHERE {field_column} IS NOT NULL
GROUP BY 1 ORDER BY customers DESC, value LIMIT 200

-- name: segment_rfm_clv
-- CLV and churn risk per RFM segment for the members of a segment.
WITH base AS ({segment_base})
SELECT coalesce(rfm_segment, '(no purchase)') AS rfm_segment, count(*) AS customers,
       avg(clv) AS avg_clv, sum(clv) AS total_clv, avg(p_alive) AS avg_p_alive,
       avg(churn_probability) AS avg_churn_probability
FROM base WHERE {segment_filter}
GROUP BY 1 ORDER BY total_clv DESC NULLS LAST

-- name: audience_counts
WITH base AS ({segment_base})
SELECT count(*) AS members,
       count(*) FILTER (WHERE consent_sms) AS sms_consent,
       count(*) FILTER (WHERE has_valid_mobile) AS sms_valid,
       count(*) FILTER (WHERE consent_sms AND has_valid_mobile) AS sms_reachable,
       count(*) FILTER (WHERE consent_email) AS email_consent,
       count(*) FILTER (WHERE has_valid_email) AS email_valid,
       count(*) FILTER (WHERE consent_email AND has_valid_email) AS email_reachable,
       count(*) FILTER (WHERE consent_phone) AS phone_consent,
       count(*) FILTER (WHERE has_valid_mobile) AS phone_valid,
       count(*) FILTER (WHERE consent_phone AND has_valid_mobile) AS phone_reachable
FROM base WHERE {segment_filter}

-- name: audience_rows
-- Reachable members for one channel; the channel filter and contact column come from the
-- channel whitelist in lib/audience.py.
WITH base AS ({segment_base})
SELECT customer_id, source, source_record_id, full_name, {contact_column}, province, city,
       customer_type, rfm_segment, lifecycle_stage, churn_risk
FROM base
WHERE ({segment_filter}) AND {channel_filter}
ORDER BY customer_id

-- name: segments_all
SELECT segment_id, name, description, definition, owner, version, created_at, updated_at
FROM segments ORDER BY lower(name)

-- name: segment_by_id
SELECT segment_id, name, description, definition, owner, version, created_at, updated_at
FROM segments WHERE segment_id = :segment_id

-- name: segment_by_name
SELECT segment_id, name, description, definition, owner, version, created_at, updated_at
FROM segments WHERE lower(name) = lower(:segment_name)

-- name: segment_insert
INSERT INTO segments (name, description, definition, owner)
VALUES (:segment_name, :description, CAST(:definition AS JSON), :owner)
RETURNING segment_id

-- name: segment_update
UPDATE segments
SET name = :segment_name, description = :description, definition = CAST(:definition AS JSON),
    version = version + 1, updated_at = current_timestamp
WHERE segment_id = :segment_id AND version = :expected_version

-- name: segment_delete
DELETE FROM segments WHERE segment_id = :segment_id AND version = :expected_version

-- name: tag_counts
SELECT t.tag, count(*) AS customers, max(t.created_at) AS last_used
FROM tags t JOIN customers c USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
GROUP BY t.tag ORDER BY customers DESC, t.tag

-- name: tags_of_customer
SELECT tag, created_by, created_at FROM tags WHERE customer_id = :customer_id ORDER BY tag

-- name: tag_add
INSERT INTO tags (customer_id, tag, created_by) VALUES (:customer_id, :tag, :username)
ON CONFLICT DO NOTHING

-- name: tag_remove
DELETE FROM tags WHERE customer_id = :customer_id AND tag = :tag

-- name: customer_brief
SELECT customer_id, full_name, source, source_record_id, merged_into, deleted_at, erased_at
FROM customers WHERE customer_id = :customer_id

-- name: tags_bulk_pending
-- Members of the segment that do not carry the tag yet.
WITH base AS ({segment_base})
SELECT count(*) FROM base
WHERE ({segment_filter})
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.customer_id = base.customer_id AND t.tag = :tag)

-- name: tags_bulk_add
INSERT INTO tags (customer_id, tag, created_by)
SELECT customer_id, :tag, :username
FROM (WITH base AS ({segment_base}) SELECT customer_id FROM base WHERE {segment_filter})
ON CONFLICT DO NOTHING

-- name: tags_bulk_tagged
WITH base AS ({segment_base})
SELECT count(*) FROM base
WHERE ({segment_filter})
  AND EXISTS (SELECT 1 FROM tags t WHERE t.customer_id = base.customer_id AND t.tag = :tag)

-- name: tags_bulk_remove
DELETE FROM tags
WHERE tag = :tag
  AND customer_id IN (WITH base AS ({segment_base}) SELECT customer_id FROM base WHERE {segment_filter})
