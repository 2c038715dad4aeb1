-- ========================================
-- STAGING DATABASE INITIALIZATION
-- ========================================
-- Purpose: Create test data for 4 bloqueantes validation
-- Date: 2025-10-22

-- -------------------- TENANTS (Para BLOQUEANTE 1) --------------------
INSERT INTO tenants (id, name, is_active, created_at, updated_at) VALUES
('tenant_hotel_madrid', 'Hotel Madrid Central', true, NOW(), NOW()),
('tenant_hotel_bcn', 'Hotel Barcelona Beach', true, NOW(), NOW()),
('tenant_hotel_sevilla', 'Hotel Sevilla Plaza', true, NOW(), NOW())
ON CONFLICT (id) DO NOTHING;

-- -------------------- TENANT USER IDENTIFIERS (Para BLOQUEANTE 1) --------------------
-- Mapeo: phone_number ‚Üí tenant_id
INSERT INTO tenant_user_identifiers (tenant_id, identifier_type, identifier_value, channel, created_at, updated_at) VALUES
-- Tenant Madrid
('tenant_hotel_madrid', 'phone', '+34600111222', 'whatsapp', NOW(), NOW()),
('tenant_hotel_madrid', 'email', 'guest1@madrid.com', 'gmail', NOW(), NOW()),
('tenant_hotel_madrid', 'phone', '+34600111333', 'whatsapp', NOW(), NOW()),

-- Tenant Barcelona
('tenant_hotel_bcn', 'phone', '+34600222333', 'whatsapp', NOW(), NOW()),
('tenant_hotel_bcn', 'email', 'guest1@barcelona.com', 'gmail', NOW(), NOW()),

-- Tenant Sevilla
('tenant_hotel_sevilla', 'phone', '+34600333444', 'whatsapp', NOW(), NOW()),
('tenant_hotel_sevilla', 'email', 'guest1@sevilla.com', 'gmail', NOW(), NOW())
ON CONFLICT DO NOTHING;

-- -------------------- SESSIONS (Para validaci√≥n de estado) --------------------
-- Crear sesiones de prueba con diferentes estados
INSERT INTO sessions (session_id, tenant_id, user_id, channel, state, created_at, updated_at, expires_at) VALUES
('session_madrid_001', 'tenant_hotel_madrid', '+34600111222', 'whatsapp', '{"intent_history": ["check_availability"], "context": {"check_in": "2025-11-01", "check_out": "2025-11-03"}}', NOW(), NOW(), NOW() + INTERVAL '24 hours'),
('session_bcn_001', 'tenant_hotel_bcn', '+34600222333', 'whatsapp', '{"intent_history": ["greeting", "check_availability"], "context": {"guests": 2}}', NOW(), NOW(), NOW() + INTERVAL '24 hours')
ON CONFLICT DO NOTHING;

-- -------------------- LOCK AUDIT (Para troubleshooting) --------------------
-- No insertar, se crean din√°micamente, pero dejar tabla lista
-- (Ya existe por SQLAlchemy migration)

-- -------------------- FEATURE FLAGS (Redis init via script) --------------------
-- Se manejan en redis-init.sh

-- -------------------- COMMIT & REPORT --------------------
SELECT 'Staging data seeded successfully!' AS status;
SELECT COUNT(*) AS tenants_count FROM tenants;
SELECT COUNT(*) AS identifiers_count FROM tenant_user_identifiers;
SELECT COUNT(*) AS sessions_count FROM sessions;
