package demo

import "github.com/agentehotel/agente-caddy/internal/pms"

// The demo's sample hotels by PMS id: the pms_hotel_id of the tenants of
// caddy/dev-tenants.yaml (the hotels of test/sql/init-staging-db.sql).
const (
	MadridCentral  = 1
	BarcelonaBeach = 2
	SevillaPlaza   = 3
)

// SampleProperties returns the demo's hotels by PMS id, each with its own
// address, amenities and room types. A fresh copy on every call.
func SampleProperties() map[int]Property {
	return map[int]Property{
		MadridCentral: {
			Name:         "Hotel Madrid Central",
			Address:      "Calle Mayor 1",
			City:         "Madrid",
			Phone:        "+34 915 320 000",
			Email:        "recepcion@madridcentral.example",
			CheckInTime:  "15:00",
			CheckOutTime: "12:00",
			Amenities:    []string{"WiFi gratis", "Desayuno buffet", "Parking", "Piscina", "Gimnasio", "Recepción 24 h"},
			AmenitiesEN:  []string{"Free WiFi", "Buffet breakfast", "Parking", "Swimming pool", "Gym", "24-hour reception"},
			TimeZone:     "Europe/Madrid",
			Currency:     "EUR",
			Rooms: []Room{
				{Type: pms.RoomType{ID: 1, Name: bilingual("Habitación individual", "Single room"), MaxAdults: 1, MaxChildren: 0, MaxGuests: 1, Description: bilingual("Habitación individual, cama de 105 cm", "Single room, 105 cm bed")}, Count: 4, WeekdayRate: 70, WeekendRate: 85},
				{Type: pms.RoomType{ID: 2, Name: bilingual("Habitación doble", "Double room"), MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: bilingual("Habitación doble, cama de matrimonio", "Double room, queen-size bed")}, Count: 5, WeekdayRate: 100, WeekendRate: 130},
				{Type: pms.RoomType{ID: 3, Name: bilingual("Habitación con dos camas", "Twin room"), MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: bilingual("Habitación con dos camas individuales", "Room with two single beds")}, Count: 4, WeekdayRate: 95, WeekendRate: 120},
				{Type: pms.RoomType{ID: 4, Name: bilingual("Suite", "Suite"), MaxAdults: 2, MaxChildren: 2, MaxGuests: 4, Description: bilingual("Suite con salón y bañera", "Suite with a living room and a bathtub")}, Count: 3, WeekdayRate: 180, WeekendRate: 230},
				{Type: pms.RoomType{ID: 5, Name: bilingual("Habitación familiar", "Family room"), MaxAdults: 4, MaxChildren: 2, MaxGuests: 5, Description: bilingual("Habitación familiar, cama doble y literas", "Family room, double bed and bunk beds")}, Count: 3, WeekdayRate: 150, WeekendRate: 190},
			},
		},
		BarcelonaBeach: {
			Name:         "Hotel Barcelona Beach",
			Address:      "Passeig Marítim de la Barceloneta 32",
			City:         "Barcelona",
			Phone:        "+34 932 210 000",
			Email:        "recepcion@barcelonabeach.example",
			CheckInTime:  "14:00",
			CheckOutTime: "11:00",
			Amenities:    []string{"WiFi gratis", "Desayuno buffet", "Piscina en la azotea", "Acceso directo a la playa", "Bar en la terraza", "Alquiler de bicicletas"},
			AmenitiesEN:  []string{"Free WiFi", "Buffet breakfast", "Rooftop pool", "Direct beach access", "Terrace bar", "Bike rental"},
			TimeZone:     "Europe/Madrid",
			Currency:     "EUR",
			Rooms: []Room{
				{Type: pms.RoomType{ID: 1, Name: bilingual("Doble Vista Ciudad", "Double City View"), MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: bilingual("Habitación doble con vistas a la ciudad", "Double room with city views")}, Count: 6, WeekdayRate: 110, WeekendRate: 140},
				{Type: pms.RoomType{ID: 2, Name: bilingual("Doble Vista Mar", "Double Sea View"), MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: bilingual("Habitación doble con balcón al mar", "Double room with a sea-view balcony")}, Count: 6, WeekdayRate: 140, WeekendRate: 180},
				{Type: pms.RoomType{ID: 3, Name: bilingual("Suite Frente al Mar", "Seafront Suite"), MaxAdults: 3, MaxChildren: 1, MaxGuests: 4, Description: bilingual("Suite con terraza privada frente a la playa", "Suite with a private terrace on the beach")}, Count: 2, WeekdayRate: 260, WeekendRate: 320},
				{Type: pms.RoomType{ID: 4, Name: bilingual("Familiar Dúplex", "Family Duplex"), MaxAdults: 4, MaxChildren: 3, MaxGuests: 6, Description: bilingual("Dúplex con dos dormitorios y salón", "Duplex with two bedrooms and a living room")}, Count: 2, WeekdayRate: 210, WeekendRate: 260},
			},
		},
		SevillaPlaza: {
			Name:         "Hotel Sevilla Plaza",
			Address:      "Plaza Nueva 7",
			City:         "Sevilla",
			Phone:        "+34 954 220 000",
			Email:        "recepcion@sevillaplaza.example",
			CheckInTime:  "15:00",
			CheckOutTime: "12:00",
			Amenities:    []string{"WiFi gratis", "Desayuno andaluz", "Patio con fuente", "Piscina en la azotea", "Parking concertado", "Se admiten mascotas"},
			AmenitiesEN:  []string{"Free WiFi", "Andalusian breakfast", "Courtyard with a fountain", "Rooftop pool", "Partner car park", "Pets welcome"},
			TimeZone:     "Europe/Madrid",
			Currency:     "EUR",
			Rooms: []Room{
				{Type: pms.RoomType{ID: 1, Name: bilingual("Individual", "Single"), MaxAdults: 1, MaxGuests: 1, Description: bilingual("Habitación individual interior", "Inside single room")}, Count: 3, WeekdayRate: 65, WeekendRate: 80},
				{Type: pms.RoomType{ID: 2, Name: bilingual("Doble Patio", "Double Courtyard"), MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: bilingual("Habitación doble con ventana al patio andaluz", "Double room overlooking the Andalusian courtyard")}, Count: 8, WeekdayRate: 90, WeekendRate: 115},
				{Type: pms.RoomType{ID: 3, Name: bilingual("Habitación Dos Camas", "Twin Room"), MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: bilingual("Dos camas individuales", "Two single beds")}, Count: 4, WeekdayRate: 88, WeekendRate: 110},
				{Type: pms.RoomType{ID: 4, Name: bilingual("Suite Giralda", "Giralda Suite"), MaxAdults: 2, MaxChildren: 2, MaxGuests: 4, Description: bilingual("Suite con vistas a la Giralda", "Suite with views of the Giralda")}, Count: 2, WeekdayRate: 200, WeekendRate: 250},
			},
		},
	}
}

// bilingual is a text of the demo in Spanish and English.
func bilingual(es, en string) pms.Text { return pms.Text{"es": es, "en": en} }

// DefaultProperty is the property of a tenant with no PMS id (and of every
// tenant when WithProperty says so), named name ("Hotel Demo" when empty):
// Hotel Madrid Central's rooms and services at an address of its own, so
// that such a tenant is not shown as the Madrid hotel.
func DefaultProperty(name string) Property {
	if name == "" {
		name = "Hotel Demo"
	}
	p := SampleProperties()[MadridCentral]
	p.Name, p.Address = name, "Calle del Ejemplo 1"
	p.Phone, p.Email = "+34 910 000 000", "recepcion@hotel-demo.example"
	return p
}
