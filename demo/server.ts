// Temporary entry until the demo app lands (issue #6): start the WeChat sandbox and print how to use it.
import { main } from '../lib/cli';

void main(['sandbox', '--port', process.env.PORT ?? '3000']);
