<?php
// PHP test app: served by PHP's built-in web server on $PORT, ponton's default for an index.php.
echo "php says hello from " . PHP_VERSION . "\n";
