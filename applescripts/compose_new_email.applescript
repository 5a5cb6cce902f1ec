-- Opens a new email in Mail, ready to send (it is not sent).
-- argv: recipients (list), cc (list), subject, body, attachments (list of POSIX paths).
on run argv
	set {recipientsText, ccText, theSubject, theBody, attachmentsText} to argv
	tell application "Mail"
		set theMessage to make new outgoing message with properties {subject:theSubject, content:theBody & return & return, visible:true}
		tell theMessage
			repeat with anAddress in my splitList(recipientsText)
				make new to recipient at end of to recipients with properties {address:(contents of anAddress)}
			end repeat
			repeat with anAddress in my splitList(ccText)
				make new cc recipient at end of cc recipients with properties {address:(contents of anAddress)}
			end repeat
			repeat with aPath in my splitList(attachmentsText)
				make new attachment with properties {file name:((POSIX file (contents of aPath)) as alias)} at after the last paragraph of content
			end repeat
		end tell
		activate
	end tell
	return "Email draft \"" & theSubject & "\" is open in Mail, ready to send"
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
