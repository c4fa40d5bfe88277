-- A day of business between the two runs: updates, new customers and orders — and one transaction that is still open
-- while the second run reads (see run.sh), so it commits after it; the third run picks it up, once.
UPDATE customers SET country = 'NL', updated_at = now() WHERE id % 100 = 0;
INSERT INTO customers
SELECT i, 'customer' || i || '@example.com', 'Customer ' || i, 'DE', now(), now() FROM generate_series(2001, 2050) AS i;
UPDATE orders SET status = 'shipped', updated_at = now() WHERE order_id % 50 = 0;
INSERT INTO orders
SELECT i, 1 + i % 2050, now(), 'placed', 42.00, '[]'::jsonb, now() FROM generate_series(20001, 20300) AS i;
