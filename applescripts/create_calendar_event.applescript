-- Adds an event to Calendar.
-- argv: title, start, end ("YYYY-MM-DD HH:MM:SS"), location, invitees (list), notes,
-- calendar name ("" = the first writable calendar).
on run argv
	set {theTitle, startText, endText, theLocation, inviteesText, theNotes, calendarName} to argv
	set startDate to my parseDate(startText)
	set endDate to my parseDate(endText)
	tell application "Calendar"
		if calendarName is "" then
			set theCalendar to first calendar whose writable is true
		else
			if not (exists calendar calendarName) then
				error "No calendar named \"" & calendarName & "\"; calendars are: " & my joinList(name of every calendar, ", ") number 1004
			end if
			set theCalendar to calendar calendarName
		end if
		tell theCalendar
			set theEvent to make new event at end of events with properties {summary:theTitle, start date:startDate, end date:endDate, location:theLocation, description:theNotes}
		end tell
		repeat with anAddress in my splitList(inviteesText)
			tell theEvent to make new attendee at end of attendees with properties {email:(contents of anAddress)}
		end repeat
		return "Created \"" & theTitle & "\" in the " & (name of theCalendar) & " calendar"
	end tell
end run

-- Lists arrive as one argument, items separated by ASCII 31 (unit separator); "" is an empty list.
on splitList(encoded)
	if encoded is "" then return {}
	set savedDelimiters to AppleScript's text item delimiters
	set AppleScript's text item delimiters to (character id 31)
	set theItems to text items of encoded
	set AppleScript's text item delimiters to savedDelimiters
	return theItems
end splitList

on joinList(theItems, separator)
	set savedDelimiters to AppleScript's text item delimiters
	set AppleScript's text item delimiters to separator
	set joined to theItems as text
	set AppleScript's text item delimiters to savedDelimiters
	return joined
end joinList

-- Dates arrive as "YYYY-MM-DD HH:MM:SS" and are built from their parts, because AppleScript's
-- own date parsing follows the user's locale.
on parseDate(isoText)
	set theDate to current date
	set day of theDate to 1
	set year of theDate to (text 1 thru 4 of isoText) as integer
	set month of theDate to (text 6 thru 7 of isoText) as integer
	set day of theDate to (text 9 thru 10 of isoText) as integer
	set hours of theDate to (text 12 thru 13 of isoText) as integer
	set minutes of theDate to (text 15 thru 16 of isoText) as integer
	set seconds of theDate to (text 18 thru 19 of isoText) as integer
	return theDate
end parseDate
