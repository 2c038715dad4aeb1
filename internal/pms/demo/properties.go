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
				{Type: pms.RoomType{ID: 1, Name: "Single", MaxAdults: 1, MaxChildren: 0, MaxGuests: 1, Description: "Habitación individual, cama de 105 cm"}, Count: 4, WeekdayRate: 70, WeekendRate: 85},
				{Type: pms.RoomType{ID: 2, Name: "Double", MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: "Habitación doble, cama de matrimonio"}, Count: 5, WeekdayRate: 100, WeekendRate: 130},
				{Type: pms.RoomType{ID: 3, Name: "Twin", MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: "Habitación con dos camas individuales"}, Count: 4, WeekdayRate: 95, WeekendRate: 120},
				{Type: pms.RoomType{ID: 4, Name: "Suite", MaxAdults: 2, MaxChildren: 2, MaxGuests: 4, Description: "Suite con salón y bañera"}, Count: 3, WeekdayRate: 180, WeekendRate: 230},
				{Type: pms.RoomType{ID: 5, Name: "Family", MaxAdults: 4, MaxChildren: 2, MaxGuests: 5, Description: "Habitación familiar, cama doble y literas"}, Count: 3, WeekdayRate: 150, WeekendRate: 190},
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
				{Type: pms.RoomType{ID: 1, Name: "Doble Vista Ciudad", MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: "Habitación doble con vistas a la ciudad"}, Count: 6, WeekdayRate: 110, WeekendRate: 140},
				{Type: pms.RoomType{ID: 2, Name: "Doble Vista Mar", MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: "Habitación doble con balcón al mar"}, Count: 6, WeekdayRate: 140, WeekendRate: 180},
				{Type: pms.RoomType{ID: 3, Name: "Suite Frente al Mar", MaxAdults: 3, MaxChildren: 1, MaxGuests: 4, Description: "Suite con terraza privada frente a la playa"}, Count: 2, WeekdayRate: 260, WeekendRate: 320},
				{Type: pms.RoomType{ID: 4, Name: "Familiar Dúplex", MaxAdults: 4, MaxChildren: 3, MaxGuests: 6, Description: "Dúplex con dos dormitorios y salón"}, Count: 2, WeekdayRate: 210, WeekendRate: 260},
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
				{Type: pms.RoomType{ID: 1, Name: "Individual", MaxAdults: 1, MaxGuests: 1, Description: "Habitación individual interior"}, Count: 3, WeekdayRate: 65, WeekendRate: 80},
				{Type: pms.RoomType{ID: 2, Name: "Doble Patio", MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: "Habitación doble con ventana al patio andaluz"}, Count: 8, WeekdayRate: 90, WeekendRate: 115},
				{Type: pms.RoomType{ID: 3, Name: "Habitación Dos Camas", MaxAdults: 2, MaxChildren: 1, MaxGuests: 3, Description: "Dos camas individuales"}, Count: 4, WeekdayRate: 88, WeekendRate: 110},
				{Type: pms.RoomType{ID: 4, Name: "Suite Giralda", MaxAdults: 2, MaxChildren: 2, MaxGuests: 4, Description: "Suite con vistas a la Giralda"}, Count: 2, WeekdayRate: 200, WeekendRate: 250},
			},
		},
	}
}

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
