-- The shop's operational tables, as the application writes them: updated_at moves on every change.
CREATE TABLE customers (
  id          bigint PRIMARY KEY,
  email       text NOT NULL,
  name        text NOT NULL,
  country     text,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);
CREATE INDEX customers_updated ON customers (updated_at, id);
CREATE TABLE orders (
  order_id     bigint PRIMARY KEY,
  customer_id  bigint NOT NULL REFERENCES customers (id),
  order_date   timestamptz NOT NULL,
  status       text NOT NULL,
  total        numeric(12, 2) NOT NULL,
  items        jsonb NOT NULL,
  updated_at   timestamptz NOT NULL
);
CREATE INDEX orders_updated ON orders (updated_at, order_id);

INSERT INTO customers
SELECT i, 'customer' || i || '@example.com', 'Customer ' || i, (ARRAY['NL', 'DE', 'BE', 'FR'])[1 + i % 4],
       now() - interval '400 days' + i * interval '1 hour', now() - interval '2 days' + i * interval '1 second'
FROM generate_series(1, 2000) AS i;

INSERT INTO orders
SELECT i, 1 + i % 2000, now() - interval '90 days' + i * interval '7 minutes', (ARRAY['placed', 'paid', 'shipped'])[1 + i % 3],
       round((10 + (i * 37) % 500)::numeric + 0.99, 2), jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (i % 97), 'qty', 1 + i % 3)),
       now() - interval '1 day' + i * interval '1 second'
FROM generate_series(1, 20000) AS i;
