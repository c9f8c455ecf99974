-- Write: fulfil an order in one transaction. Take one unit of its first item
-- from the first warehouse that stocks it, and mark the order shipped if it
-- was pending. Only updates: repeated benchmarks keep the seeded row counts,
-- so their figures stay comparable. Every transaction locks inventory, then
-- orders, one row each, always in that order: no deadlock between clients.
BEGIN;
SELECT pick.id AS order_id,
       coalesce((SELECT oi.product_id FROM shop.order_items AS oi WHERE oi.order_id = pick.id ORDER BY oi.id LIMIT 1), 0)
           AS product_id
FROM (SELECT 1 + floor(random() * max(id))::bigint AS id FROM shop.orders) AS pick \gset
UPDATE shop.inventory
SET quantity = greatest(quantity - 1, 0), updated_at = now()
WHERE product_id = :product_id
  AND warehouse_id = (SELECT min(warehouse_id) FROM shop.inventory WHERE product_id = :product_id);
UPDATE shop.orders SET status = 'shipped' WHERE id = :order_id AND status = 'pending';
END;
