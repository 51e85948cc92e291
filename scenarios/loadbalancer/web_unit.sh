# Prints the web server unit that is running: apache2 (Debian) or httpd
# (CentOS); fails when neither is.
for u in apache2 httpd; do
    if systemctl is-active --quiet "$u"; then
        echo "$u"
        exit 0
    fi
done
exit 1
