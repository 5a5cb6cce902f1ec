-- Sends a text with Messages: over SMS (iPhone text forwarding) when set up, else iMessage.
-- argv: recipients (list of phone numbers or iMessage addresses), message.
on run argv
	set {recipientsText, theMessage} to argv
	tell application "Messages"
		set smsAccounts to every account whose service type is SMS
		if (count of smsAccounts) > 0 then
			set theAccount to item 1 of smsAccounts
		else
			set theAccount to first account whose service type is iMessage
		end if
		repeat with aNumber in my splitList(recipientsText)
			send theMessage to participant (contents of aNumber) of theAccount
		end repeat
	end tell
	return "Sent to " & my joinList(my splitList(recipientsText), ", ")
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
