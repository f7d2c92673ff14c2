import { driverSuite } from '../driver.suite.ts';
import { MemoryDriver } from './memory.ts';

driverSuite('memory', async () => ({ driver: new MemoryDriver(), cleanup: async () => undefined }));
