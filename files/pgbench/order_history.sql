-- Read: a customer's order history page. Their ten latest orders with the
-- order total and the payment status, for a customer drawn uniformly.
WITH pick AS (SELECT 1 + floor(random() * max(id))::bigint AS id FROM shop.customers)
SELECT o.id, o.status, o.ordered_at, sum(oi.quantity * oi.unit_price) AS total, max(pay.status) AS payment
FROM pick
JOIN shop.orders AS o ON o.customer_id = pick.id
LEFT JOIN shop.order_items AS oi ON oi.order_id = o.id
LEFT JOIN shop.payments AS pay ON pay.order_id = o.id
GROUP BY o.id, o.status, o.ordered_at
ORDER BY o.ordered_at DESC
LIMIT 10;
