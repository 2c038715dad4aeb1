package nlp

import "strings"

// The hotel's vocabulary: the kinds of room and the hotel-info topics, each
// with the words a guest uses to ask for it and the words in a PMS's names
// (room types, amenities) that mean it. The analyzer reads messages with the
// first, the agent reads the PMS's names with the second, so that a guest who
// asks for a "doble" is offered the PMS's "Habitación Doble Superior".

// Room categories: what a guest asks for (Entities.RoomType) and what a PMS
// room type is (RoomCategoryOf).
const (
	RoomTwin   = "twin"
	RoomSuite  = "suite"
	RoomFamily = "family"
	RoomDouble = "double"
	RoomSingle = "single"
)

// roomVocabulary is read in this order in a guest's message: the first
// category named wins, so two beds make a twin whatever else the guest says
// ("una doble con dos camas", "suite con dos camas").
var roomVocabulary = []struct {
	category string
	// asked are patterns (see compile) over the guest's canonical words.
	asked []string
	// named are folded words that mark a PMS room type's name as the category.
	named []string
}{
	{RoomTwin,
		[]string{"twin|twins", "2|dos|two ~1 camas|beds", "camas ~1 separadas|individuales|simples", "separate|single|separated ~1 beds"},
		[]string{"twin", "dos camas", "2 camas"}},
	{RoomSuite,
		[]string{"suite|suites"},
		[]string{"suite"}},
	{RoomFamily,
		[]string{"familiar|familiares|cuadruple|cuadruples", "family ~1 room|rooms|suite|habitacion"},
		[]string{"family", "familiar", "familia"}},
	{RoomDouble,
		[]string{"doble|dobles|matrimonial|matrimoniales|double|king|queen|kingsize", "de ~1 matrimonio"},
		[]string{"double", "doble", "matrimonio", "king", "queen"}},
	{RoomSingle,
		[]string{"individual|individuales|sencilla|sencillas|sencillo|simple|simples|single|singles"},
		[]string{"single", "individual", "sencilla"}},
}

// roomNamePrecedence is the order a PMS room type's name is read in, which
// is not a guest's: what the room is comes before its beds ("Twin Suite" is a
// suite, "Family Twin" a family room), and a double let to one guest
// ("Doble uso individual") is a single.
var roomNamePrecedence = []string{RoomSuite, RoomFamily, RoomTwin, RoomSingle, RoomDouble}

// RoomCategories lists every room category.
func RoomCategories() []string {
	out := make([]string, len(roomVocabulary))
	for i, r := range roomVocabulary {
		out[i] = r.category
	}
	return out
}

// RoomCategoryOf classifies a PMS room type by its name ("Habitación Doble"
// is a double), or "" when the name says nothing known.
func RoomCategoryOf(name string) string {
	n := Fold(name)
	for _, category := range roomNamePrecedence {
		for _, r := range roomVocabulary {
			if r.category != category {
				continue
			}
			for _, w := range r.named {
				if strings.Contains(n, w) {
					return category
				}
			}
		}
	}
	return ""
}

// Hotel-info topics.
const (
	TopicAddress      = "address"
	TopicCheckInTime  = "checkin_time"
	TopicCheckOutTime = "checkout_time"
	TopicAmenities    = "amenities"
	TopicParking      = "parking"
	TopicWifi         = "wifi"
	TopicBreakfast    = "breakfast"
	TopicPool         = "pool"
	TopicPets         = "pets"
)

// topicVocabulary lists the topics in the order answers report them.
var topicVocabulary = []struct {
	topic string
	// asked are patterns (see compile) over the guest's canonical words.
	asked []string
	// named are folded words, in either language, that mark one of the
	// PMS's amenity names as the answer; a topic without them is not an
	// amenity a hotel may lack.
	named []string
}{
	{TopicAddress, []string{
		"direccion|ubicacion|address|location|ubicados|ubicadas|ubicado|ubicada|localizacion|mapa|map|directions",
		"donde|where ~3 estan|queda|quedan|esta|located|situated|situados|hotel|ubican",
		"como|how ~3 llego|llegar|llegamos|llegamos|get|voy|ir|go",
		"lejos|far|distancia|distance|cerca|near|nearby|barrio|zona|neighborhood|area",
	}, nil},
	{TopicCheckInTime, []string{
		"checkin ~2 early|temprano|antes|earlier",
		"hora|horario|horarios|time|times|when|cuando|early|temprano ~4 checkin|entrada|ingreso|llegada|arrival|entrar|ingresar|arrive",
		"checkin|entrada|ingreso ~3 hora|horario|horarios|time|times|cuando|when|empieza|starts",
	}, nil},
	{TopicCheckOutTime, []string{
		"hora|horario|horarios|time|times|when|cuando ~4 checkout|salida|salir|dejar|desalojar|leave|entregar",
		"checkout|salida ~3 hora|horario|horarios|time|times|cuando|when",
	}, nil},
	{TopicAmenities, []string{
		"servicios|servicio|gimnasio|gym|spa|restaurante|restaurant|bar|sauna|amenities|amenidades|facilities|services|lavanderia|laundry|jacuzzi|traslado|traslados|transfer|shuttle|ascensor|elevator|calefaccion|heating|minibar|tv|television|cocina|kitchen|comodidades",
		"aire|air ~1 acondicionado|conditioning",
	}, nil},
	{TopicParking, []string{
		"parking|estacionamiento|aparcamiento|cochera|garaje|garage|aparcar|estacionar|parquear|parqueadero|parqueo|park",
		"dejar|guardar ~2 auto|coche|carro|car",
	}, []string{"parking", "aparcamiento", "garaje", "garage"}},
	{TopicWifi, []string{"wifi|internet|wireless"}, []string{"wifi", "wi-fi", "internet"}},
	{TopicBreakfast, []string{"desayuno|desayunos|desayunar|breakfast"}, []string{"desayuno", "breakfast"}},
	{TopicPool, []string{"piscina|piscinas|pileta|alberca|pool|swimming|nadar|swim"}, []string{"piscina", "pool"}},
	{TopicPets, []string{
		"mascota|mascotas|perro|perros|perrito|perrita|perritos|gato|gatos|gatito|pet|pets|dog|dogs|cat|cats|animales|animals|animal",
	}, []string{"mascota", "pet", "perro", "dog"}},
}

// Topics lists every hotel-info topic, in the order answers report them.
func Topics() []string {
	out := make([]string, len(topicVocabulary))
	for i, v := range topicVocabulary {
		out[i] = v.topic
	}
	return out
}

// amenityWords returns the named words of topic; nil when it is no amenity.
func amenityWords(topic string) []string {
	for _, v := range topicVocabulary {
		if v.topic == topic {
			return v.named
		}
	}
	return nil
}

// IsAmenityTopic reports whether topic is answered from the hotel's list of
// amenities (parking, wifi…), which may lack it.
func IsAmenityTopic(topic string) bool { return amenityWords(topic) != nil }

// FindAmenity returns the first of a hotel's amenity names that answers
// topic ("Parking privado" answers parking), or "".
func FindAmenity(topic string, amenities []string) string {
	words := amenityWords(topic)
	for _, a := range amenities {
		f := Fold(a)
		for _, w := range words {
			if strings.Contains(f, w) {
				return a
			}
		}
	}
	return ""
}
