-- Read: a product page. The product with its category and supplier, its stock
-- across warehouses and its average rating. The product is drawn uniformly
-- from the seeded ids (max(id) comes from the primary key index).
WITH pick AS (SELECT 1 + floor(random() * max(id))::bigint AS id FROM shop.products)
SELECT p.id, p.sku, p.name, p.price, c.name AS category, s.name AS supplier,
       (SELECT coalesce(sum(i.quantity), 0) FROM shop.inventory AS i WHERE i.product_id = p.id) AS stock,
       (SELECT round(avg(r.rating), 2) FROM shop.reviews AS r WHERE r.product_id = p.id) AS rating
FROM pick
JOIN shop.products AS p ON p.id = pick.id
JOIN shop.categories AS c ON c.id = p.category_id
JOIN shop.suppliers AS s ON s.id = p.supplier_id;
